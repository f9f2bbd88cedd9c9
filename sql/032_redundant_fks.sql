-- Foreign keys that only repeat another: certificates and revocations
-- name their tenant twice, once alone and once with their CA, and
-- (tenant_id, ca_id) -> cas, with cas.tenant_id -> tenants, already proves
-- the tenant exists.  Each foreign key is a query and a FOR KEY SHARE lock
-- on the row it names at every insert: for issuance, on the one tenants
-- row that every concurrent issuance of the tenant locks too.  Dropping
-- the single-column key takes a probe and a lock off every certificate
-- and every revoked serial (a mass revocation writes 100,000 of them) and
-- changes nothing that can be stored: a row whose tenant does not exist
-- still cannot have a CA, and a tenant with certificates still cannot go
-- while its CAs stay.  (EXPLAIN ANALYZE of one issuance's INSERT, warm:
-- 0.06 ms of its 0.38 ms in that key's trigger; bench/RESULTS.md (q).)
ALTER TABLE certificates DROP CONSTRAINT IF EXISTS certificates_tenant_id_fkey;
ALTER TABLE revocations DROP CONSTRAINT IF EXISTS revocations_tenant_id_fkey;
