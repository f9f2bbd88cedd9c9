/*
 * stmt_ztp: the statements of zero-touch provisioning (store/ztp.c,
 * sql/026), as X(NAME, SQL) rows of the one statement table
 * (statements.h).  Every one names its tenant; a root is made through
 * fleetpki_ztp_root_insert (CAs are the owner's to write).
 */
#ifndef FLEETPKI_STMT_ZTP_H
#define FLEETPKI_STMT_ZTP_H

#define SQL_ZTP_EPOCH(col) "floor(extract(epoch FROM " col "))::bigint"

/* A root as struct ztp_root_rec reads it: r ztp_roots, ca cas. */
#define SQL_ZTP_ROOT_COLS                                                      \
	"r.ca_id, r.name, ca.name, r.ca_days, r.device_days, "                 \
	"coalesce(r.renew_before, 0), r.key_type, "                            \
	SQL_ZTP_EPOCH("r.created_at") ", " SQL_ZTP_EPOCH("ca.not_after") ", "  \
	"ca.cert_der, "                                                        \
	"(SELECT count(*) FROM ztp_devices z JOIN certificates c ON "          \
	"c.id = z.cert_id WHERE z.tenant_id = r.tenant_id AND "                \
	"c.ca_id = r.ca_id AND z.state <> 'GONE')"
#define SQL_ZTP_ROOT_FROM                                                      \
	" FROM ztp_roots r JOIN cas ca ON ca.tenant_id = r.tenant_id AND "     \
	"ca.id = r.ca_id "

/* A device's ZTP row as struct ztp_dev_rec reads it: z, dv devices. */
#define SQL_ZTP_DEV_COLS                                                       \
	"z.device_id, dv.rot, z.ca_id, r.name, z.state, z.op, z.seq, "         \
	"z.key_type, z.server_key, z.pubkey, coalesce(z.cert_id, 0), "         \
	"coalesce(z.pending_cert_id, 0), z.wrapped, coalesce(z.days, 0), "     \
	"(SELECT pem FROM certificates c WHERE c.id = z.pending_cert_id), "    \
	"(SELECT serial FROM certificates c WHERE c.id = z.cert_id), "         \
	"(SELECT " SQL_ZTP_EPOCH("c.not_after")                                \
	" FROM certificates c WHERE c.id = z.cert_id), "                       \
	"(SELECT r2.name FROM certificates c JOIN ztp_roots r2 ON "            \
	"r2.tenant_id = c.tenant_id AND r2.ca_id = c.ca_id WHERE "             \
	"c.id = z.cert_id), "                                                  \
	"EXISTS (SELECT 1 FROM revocations v WHERE v.certificate_id = "        \
	"z.cert_id)"
#define SQL_ZTP_DEV_FROM                                                       \
	" FROM ztp_devices z JOIN devices dv ON dv.tenant_id = z.tenant_id "   \
	"AND dv.id = z.device_id JOIN ztp_roots r ON r.tenant_id = "           \
	"z.tenant_id AND r.ca_id = z.ca_id "

/* The devices an operator call names: by ROT ($2) or by serial ($3). */
#define SQL_ZTP_NAMED                                                          \
	"(dv.rot = ANY ($2::text[]) OR EXISTS (SELECT 1 FROM certificates c "  \
	"WHERE c.id = z.cert_id AND c.serial = ANY ($3::text[])))"

#define FOREACH_STMT_ZTP(X)                                                    \
	X(ZTP_ROOT_INSERT,                                                     \
	    "SELECT fleetpki_ztp_root_insert($1, $2, $3, $4, $5, $6, $7, $8, " \
	    "$9, string_to_array($10, ','), $11, $12, $13, $14, $15)")         \
	X(ZTP_ROOT_BY_NAME,                                                    \
	    "SELECT " SQL_ZTP_ROOT_COLS SQL_ZTP_ROOT_FROM                      \
	    "WHERE r.tenant_id = $1 AND r.name = $2 AND r.deleted_at IS NULL") \
	X(ZTP_ROOT_PAGE,                                                       \
	    "SELECT " SQL_ZTP_ROOT_COLS SQL_ZTP_ROOT_FROM                      \
	    "WHERE r.tenant_id = $1 AND r.deleted_at IS NULL "                 \
	    "ORDER BY r.created_at, r.ca_id LIMIT $3 OFFSET $2")               \
	X(ZTP_ROOT_COUNT,                                                      \
	    "SELECT count(*) FROM ztp_roots WHERE tenant_id = $1 AND "         \
	    "deleted_at IS NULL")                                              \
	X(ZTP_ROOT_SET_RENEW,                                                  \
	    "UPDATE ztp_roots SET renew_before = $3, updated_at = now() "      \
	    "WHERE tenant_id = $1 AND ca_id = $2 AND deleted_at IS NULL "      \
	    "RETURNING ca_id")                                                 \
	/* In use: a device's current or pending root, or a profile's. */    \
	X(ZTP_ROOT_IN_USE,                                                     \
	    "SELECT EXISTS (SELECT 1 FROM ztp_devices z WHERE z.tenant_id = "  \
	    "$1 AND z.ca_id = $2 AND z.state <> 'GONE') OR EXISTS (SELECT 1 "  \
	    "FROM ztp_devices z JOIN certificates c ON c.id = z.cert_id "      \
	    "WHERE z.tenant_id = $1 AND c.ca_id = $2 AND z.state <> 'GONE') "  \
	    "OR EXISTS (SELECT 1 FROM ztp_profile_roots p WHERE p.tenant_id "  \
	    "= $1 AND p.ca_id = $2)")                                          \
	X(ZTP_ROOT_DELETE,                                                     \
	    "UPDATE ztp_roots SET deleted_at = now(), updated_at = now() "     \
	    "WHERE tenant_id = $1 AND ca_id = $2 AND deleted_at IS NULL "      \
	    "RETURNING ca_id")                                                 \
	X(ZTP_ROOT_DEVICES,                                                    \
	    "SELECT dv.rot FROM ztp_devices z JOIN certificates c ON c.id = "  \
	    "z.cert_id JOIN devices dv ON dv.tenant_id = z.tenant_id AND "     \
	    "dv.id = z.device_id WHERE z.tenant_id = $1 AND c.ca_id = $2 "     \
	    "AND z.state <> 'GONE' ORDER BY dv.rot LIMIT $4 OFFSET $3")        \
	X(ZTP_ROOT_REVOKED,                                                    \
	    "SELECT serial FROM revocations WHERE tenant_id = $1 AND "         \
	    "ca_id = $2 ORDER BY serial")                                      \
	X(ZTP_PROFILE_SET,                                                     \
	    "INSERT INTO ztp_profile_roots (tenant_id, profile_id, ca_id, "    \
	    "server_key, key_type) VALUES ($1, $2, $3, $4, $5) ON CONFLICT "   \
	    "(tenant_id, profile_id) DO UPDATE SET ca_id = $3, server_key = "  \
	    "$4, key_type = $5")                                               \
	X(ZTP_PROFILE_DELETE,                                                  \
	    "DELETE FROM ztp_profile_roots WHERE tenant_id = $1 AND "          \
	    "profile_id = $2 RETURNING profile_id")                            \
	/* A device enters ZTP: ZTPV1 on, its profile linked to a root. */   \
	X(ZTP_DEV_START,                                                       \
	    "INSERT INTO ztp_devices (tenant_id, device_id, ca_id, state, op, " \
	    "seq, key_type, server_key) SELECT d.tenant_id, d.id, p.ca_id, "   \
	    "'KEY', 'PROVISION', nextval('device_command_seq'), p.key_type, "  \
	    "p.server_key FROM devices d JOIN ztp_profile_roots p ON "         \
	    "p.tenant_id = d.tenant_id AND p.profile_id = d.profile_id JOIN "  \
	    "ztp_roots r ON r.tenant_id = p.tenant_id AND r.ca_id = p.ca_id "  \
	    "AND r.deleted_at IS NULL WHERE d.tenant_id = $1 AND d.id = $2 "   \
	    "AND d.current_props -> 'ZTPV1' = 'true'::jsonb "                  \
	    "ON CONFLICT DO NOTHING RETURNING device_id")                      \
	X(ZTP_DEV_GET,                                                         \
	    "SELECT " SQL_ZTP_DEV_COLS SQL_ZTP_DEV_FROM                        \
	    "WHERE z.tenant_id = $1 AND z.device_id = $2 FOR UPDATE OF z")     \
	/* $3 state $4 op $5 new seq? $6 pubkey $7 cert $8 pending $9 wrapped */ \
	X(ZTP_DEV_PUT,                                                         \
	    "UPDATE ztp_devices SET state = $3, op = $4, seq = CASE WHEN $5 "  \
	    "THEN nextval('device_command_seq') ELSE seq END, pubkey = "       \
	    "coalesce($6, pubkey), cert_id = $7, pending_cert_id = $8, "       \
	    "wrapped = $9, updated_at = now() WHERE tenant_id = $1 AND "       \
	    "device_id = $2")                                                  \
	/* The devices an operator call names, with their root. */           \
	X(ZTP_DEV_NAMED,                                                       \
	    "SELECT " SQL_ZTP_DEV_COLS SQL_ZTP_DEV_FROM                        \
	    "WHERE z.tenant_id = $1 AND " SQL_ZTP_NAMED " ORDER BY dv.rot")    \
	/* $4 state, $5 op, $6 days, $7 new root (0: same); an update of a */ \
	/* device without a certificate provisions it afresh */              \
	X(ZTP_DEV_MARK,                                                        \
	    "UPDATE ztp_devices z SET state = CASE WHEN $5 = 'UPDATE' AND "    \
	    "z.state IN ('GONE', 'FAILED') THEN 'KEY' ELSE $4 END, op = $5, "  \
	    "days = $6, "                                                      \
	    "ca_id = coalesce($7, z.ca_id), seq = nextval("                    \
	    "'device_command_seq'), updated_at = now() FROM devices dv WHERE " \
	    "dv.tenant_id = z.tenant_id AND dv.id = z.device_id AND "          \
	    "z.tenant_id = $1 AND " SQL_ZTP_NAMED " RETURNING dv.rot")         \
	/* A bootstrap is a factory reset: the slot is gone, start over. */   \
	X(ZTP_DEV_RESET,                                                       \
	    "UPDATE ztp_devices SET state = 'KEY', op = 'PROVISION', seq = "   \
	    "nextval('device_command_seq'), pending_cert_id = NULL, wrapped = " \
	    "NULL, days = NULL, updated_at = now() WHERE tenant_id = $1 AND "  \
	    "device_id = $2 AND state <> 'GONE'")                              \
	X(ZTP_USAGE_ADD,                                                       \
	    "INSERT INTO device_usage (tenant_id, device_id, day, event, "     \
	    "count) VALUES ($1, $2, (now() AT TIME ZONE 'UTC')::date, $3, 1) " \
	    "ON CONFLICT (tenant_id, device_id, day, event) DO UPDATE SET "    \
	    "count = device_usage.count + 1")                                  \
	X(ZTP_AUTO_RENEW, "SELECT fleetpki_ztp_auto_renew()")                  \
	X(ZTP_NOTICES, "SELECT fleetpki_ztp_notices()")

#endif
