-- fleetpki schema 003: a CRL belongs to its CA within one tenant, like
-- every other tenant-owned row (certificates, revocations): the foreign
-- key is (tenant_id, ca_id), so a CRL row can never name a CA of
-- another tenant, whatever the code that writes it does.
--
-- 001 declared ca_id alone (the column constraint crls_ca_id_fkey);
-- cas already has UNIQUE (tenant_id, id) for the composite reference.

ALTER TABLE crls DROP CONSTRAINT crls_ca_id_fkey;
ALTER TABLE crls ADD CONSTRAINT crls_tenant_id_ca_id_fkey
	FOREIGN KEY (tenant_id, ca_id) REFERENCES cas (tenant_id, id);
