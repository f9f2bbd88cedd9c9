-- fleetpki schema 011: what the device protocol's server side keeps
-- beyond sql/010 (docs/device-protocol.md, docs/README-device.md).
--
-- The last accepted request of each device: its MAC, its timestamp and
-- the peer it came from.  They tell a replay from a clone when a
-- counter does not grow (device_clone_events.reason):
--   COUNTER_REPLAY    the request is the last accepted one again, byte
--                     for byte (same counter and MAC), or has a lower
--                     counter and a timestamp clearly (over 2 s) older
--                     than the last accepted one's: a captured request
--                     sent again;
--   COUNTER_CONFLICT  anything else whose counter did not grow: the
--                     last accepted counter with another MAC, or a lower
--                     one with a current timestamp — a second live
--                     device with the same root secret (a clone), or a
--                     device that lost its counter.
ALTER TABLE devices
	ADD COLUMN last_mac bytea CHECK (last_mac IS NULL OR length(last_mac) = 32),
	ADD COLUMN last_request_ts bigint,
	ADD COLUMN last_peer text;

GRANT UPDATE (last_mac, last_request_ts, last_peer) ON devices TO fleetpki_app;
