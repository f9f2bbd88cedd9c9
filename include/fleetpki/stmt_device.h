/*
 * stmt_device: the statements of the device protocol: bootstrap, heartbeat, sealing (store/device.c), as
 * X(NAME, SQL) rows of the one statement table (statements.h).
 */
#ifndef FLEETPKI_STMT_DEVICE_H
#define FLEETPKI_STMT_DEVICE_H

#define FOREACH_STMT_DEVICE(X)

#endif
