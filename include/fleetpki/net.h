/*
 * net: careful outbound HTTP for everything fleetpki fetches on behalf
 * of a client (certificate-maker challenges; later webhooks and ACME).
 *
 * A client chooses the URL, so the fetcher must not become a way into
 * the operator's network (SSRF): only http (and https where allowed), no
 * redirects, no proxy from the environment, short timeouts, a capped
 * body, and every address the name resolves to is checked against a
 * deny list before connecting (in CURLOPT_OPENSOCKETFUNCTION, so DNS
 * rebinding between check and connect cannot slip through).
 */
#ifndef FLEETPKI_NET_H
#define FLEETPKI_NET_H

#include <stddef.h>
#include <sys/socket.h>

#include "fleetpki/buf.h"
#include "fleetpki/error.h"

struct net_denylist;

/*
 * Parse a comma/space separated list of CIDR networks to deny
 * (outbound_deny: "10.0.0.0/8, fd00::/8", may be empty; a bare address
 * is one host; host bits past the prefix, as in "10.0.0.1/8", are an
 * error).  Two sets are denied on top of it:
 *   always   169.254.0.0/16 and fe80::/10 (link-local, cloud metadata),
 *            fd00:ec2::254 (AWS), 100.100.100.200 (Alibaba),
 *            168.63.129.16 (Azure), 0.0.0.0/8, 255.255.255.255 and ::;
 *   default  loopback 127.0.0.0/8 and ::1, private 10.0.0.0/8,
 *            172.16.0.0/12, 192.168.0.0/16 and fc00::/7, shared
 *            100.64.0.0/10: net_denylist_allow re-allows from these;
 * and the IPv4-mapped and NAT64 forms of every IPv4 network with them
 * (see net_addr_denied).  -1 with '*err' set to a malloc'd message (the
 * caller frees it).  A NULL list in net_addr_denied/net_fetch means the
 * always- and default-denied sets alone.
 */
int	net_denylist_parse(const char *spec, struct net_denylist **out,
	    char **err);
/*
 * Re-allow the networks of 'spec' (outbound_allow, same syntax) from the
 * default-denied set of 'dl'; they never open an always-denied address
 * nor one the deny list names.  -1 with '*err' set (malloc'd) and 'dl'
 * unchanged when 'spec' does not parse.
 */
int	net_denylist_allow(struct net_denylist *dl, const char *spec,
	    char **err);
void	net_denylist_free(struct net_denylist *);

/*
 * 1 when 'sa' (AF_INET or AF_INET6) falls in a denied network.  An
 * IPv4-mapped (::ffff:a.b.c.d) or IPv4-compatible IPv6 address is judged
 * as the IPv4 address it carries; a NAT64 address (64:ff9b::/96 and the
 * local-use 64:ff9b:1::/48, the IPv4 address in its last 32 bits) is
 * denied when either it or that IPv4 address is.  Any other family is
 * denied.
 */
int	net_addr_denied(const struct net_denylist *, const struct sockaddr *sa);

/*
 * Parse an IP literal as a resolver would take it, in every notation
 * getaddrinfo/inet_aton accept (dotted, decimal "2130706433", hex
 * "0x7f.1", octal "0177.0.0.1", short forms "127.1"; IPv6 incl.
 * IPv4-mapped), into 'out'.  -1 when 'text' is not an IP literal.
 */
int	net_parse_ip(const char *text, struct sockaddr_storage *out);

struct net_fetch {
	const char			*url;
	long				 timeout_ms;	/* whole transfer */
	long				 connect_timeout_ms;
	size_t				 max_body;	/* larger: error */
	const struct net_denylist	*deny;
	int				 allow_https;	/* else http only */
	/*
	 * CA bundle (PEM file) https is verified against; NULL or "": the
	 * system's store (outbound_ca_file).
	 */
	const char			*ca_file;
	/*
	 * Keep the connection open for the next request to the same
	 * origin from this process, and resume TLS sessions (the webhook
	 * deliveries: one handshake per URL, not per delivery).  A kept
	 * connection was checked against the deny list when it was opened;
	 * every new one is checked again.
	 */
	int				 keep_alive;
};

/*
 * What to send: 'method' one of GET, HEAD, POST, PUT, PATCH, DELETE;
 * 'headers' NULL or a NULL-terminated list of "Name: value" lines (no CR
 * or LF; set Content-Type when there is a body, or curl says
 * application/x-www-form-urlencoded); 'body' sent as is with its
 * Content-Length (not for GET and HEAD).
 */
struct net_request {
	const char		*method;
	const char *const	*headers;
	const void		*body;
	size_t			 body_len;
};

/*
 * Send 'rq' (NULL: a plain GET) to 'f->url' under every limit of 'f':
 * the address check on each connection, no redirects (a 3xx is an
 * answer), no proxy from the environment, the timeouts, 'f->max_body'
 * for the body and 16 KiB for the headers.  On any answer, 0 with
 * '*status', the body appended to 'body' and, when 'head' is not NULL,
 * the response's header lines (status line first, as received) appended
 * to 'head'.  Failures as net_http_get; a method, header line or body
 * the contract above refuses is -FP_E_INTERNAL (a bug in the caller).
 */
int	net_http_request(const struct net_fetch *f,
	    const struct net_request *rq, long *status, struct buf *head,
	    struct buf *body, struct fp_status *st);

/*
 * GET 'f->url'.  On any answer, 0 with '*status' and the body in 'body';
 * on failure (refused address, DNS, timeout, body too large, protocol)
 * -FP_E_EXPECTATION with a short reason in 'st' that does not reveal
 * internal addresses beyond what the caller gave.
 */
int	net_http_get(const struct net_fetch *f, long *status, struct buf *body,
	    struct fp_status *st);

#endif
