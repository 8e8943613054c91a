/* h5util.h - small HDF5 helpers shared by the dataset and checkpoint modules.
 *
 *   H5Quiet q;
 *   h5_quiet_begin(&q);                 // no HDF5 error stack on stderr: we report our own messages
 *   hid_t fapl = h5_fapl();
 *   hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
 *   h5_close_id(fapl); h5_close_id(f);  // any id kind, negative ids ignored
 *   h5_quiet_end(&q);
 */
#ifndef ACGAN_H5UTIL_H
#define ACGAN_H5UTIL_H

#include <hdf5.h>

#define H5_LOCK_HINT                                                                                       \
    " (if the file is on a filesystem without locking or open elsewhere for writing, try "             \
    "HDF5_USE_FILE_LOCKING=FALSE)"

/* HDF5's error printer, saved while it is switched off. */
typedef struct {
    H5E_auto2_t fn;
    void *data;
} H5Quiet;

void h5_quiet_begin(H5Quiet *q);
void h5_quiet_end(const H5Quiet *q);
void h5_close_id(hid_t id);
/* File access properties: tolerate filesystems where locking is disabled (HDF5 >= 1.10.7). */
hid_t h5_fapl(void);

#endif
