/* guard.h - what keeps a long cluster run safe: stop signals, replica consistency checks, and test faults.
 *
 *   guard_install_signals();                        // SIGTERM / SIGUSR1 set a flag; one > 5 s later exits
 *   if (guard_stop_requested()) { checkpoint; return ACGAN_STOPPED; }   // collective, at a step boundary
 *   if (guard_check_replicas(a, step, &err) != ACGAN_OK) ...            // collective hash comparison
 *   guard_fault(GUARD_FAULT_NAN, step)              // test hook: ACGAN_TEST_FAULT=nan:RANK:STEP
 *
 * ACGAN_TEST_FAULT=KIND:RANK:STEP injects one fault on one rank when it starts step STEP, for tests:
 *   exit   the rank exits with status 1 (a dead rank)      crash  the rank aborts (SIGABRT)
 *   nan    its real batch becomes NaN                      drift  one of its G parameters changes
 *   term   it sends itself SIGTERM
 */
#ifndef ACGAN_GUARD_H
#define ACGAN_GUARD_H

#include <stdint.h>

#include "acgan/acgan.h"
#include "acgan/common.h"

#define ACGAN_EXIT_STOPPED 75 /* exit code after a signal-triggered checkpoint (EX_TEMPFAIL): requeue */

typedef enum { GUARD_FAULT_NONE, GUARD_FAULT_EXIT, GUARD_FAULT_CRASH, GUARD_FAULT_NAN, GUARD_FAULT_DRIFT,
               GUARD_FAULT_TERM } GuardFault;

void guard_install_signals(void);
/* Collective: 1 when any rank has received SIGTERM or SIGUSR1. */
int guard_stop_requested(void);
/* A 64-bit hash of parameters, BatchNorm statistics and Adam state of both models. */
uint64_t guard_state_hash(const Acgan *a);
/* Collective: compares every rank's guard_state_hash; on a mismatch the error names the ranks and step. */
AcganStatus guard_check_replicas(const Acgan *a, int64_t step, AcganError *err);
/* Test hook: the fault ACGAN_TEST_FAULT asks of this rank at this step (NONE almost always). Exit, crash
 * and term faults are carried out inside; nan and drift are returned for the caller to apply. */
GuardFault guard_fault(int64_t step);

#endif
