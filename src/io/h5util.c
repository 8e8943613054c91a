/* h5util.c - HDF5 helpers shared by dataset.c and checkpoint.c. See h5util.h. */
#include "acgan/h5util.h"

void h5_quiet_begin(H5Quiet *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->fn, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void h5_quiet_end(const H5Quiet *q) { H5Eset_auto2(H5E_DEFAULT, q->fn, q->data); }

void h5_close_id(hid_t id)
{
    if (id < 0) return;
    switch (H5Iget_type(id)) {
    case H5I_FILE: H5Fclose(id); break;
    case H5I_DATASET: H5Dclose(id); break;
    case H5I_DATASPACE: H5Sclose(id); break;
    case H5I_DATATYPE: H5Tclose(id); break;
    case H5I_ATTR: H5Aclose(id); break;
    case H5I_GENPROP_LST: H5Pclose(id); break;
    case H5I_GROUP: H5Gclose(id); break;
    default: break;
    }
}

hid_t h5_fapl(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
#if H5_VERSION_GE(1, 10, 7)
    if (fapl >= 0) H5Pset_file_locking(fapl, 1, 1);
#endif
    return fapl;
}
