/*
 * secsvc_tags: tags of the security-services dialect.
 */
#include "config.h"

#include <stddef.h>

#include "fleetpki/api.h"

const struct route_group secsvc_tag_routes = { "secsvc-tags", NULL, 0, NULL };
