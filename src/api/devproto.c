/*
 * devproto: the device protocol (docs/device-protocol.md).
 */
#include "config.h"

#include <stddef.h>

#include "fleetpki/api.h"

const struct route_group devproto_routes = { "devproto", NULL, 0, NULL };
