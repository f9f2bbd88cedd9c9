/*
 * secsvc_reports: the security-services dialect's history reports.
 */
#include "config.h"

#include <stddef.h>

#include "fleetpki/api.h"

const struct route_group secsvc_report_routes = { "secsvc-reports", NULL, 0,
	NULL };
