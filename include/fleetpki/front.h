/*
 * front: fleetpkid's processes.  The master binds the FastCGI socket,
 * pre-forks the workers and keeps their number; each worker accepts
 * requests on the shared socket, one at a time, with its own database
 * connection.
 */
#ifndef FLEETPKI_FRONT_H
#define FLEETPKI_FRONT_H

struct config;
struct signer;

/*
 * Serve requests on 'listen_fd' until told to stop (SIGTERM: finish the
 * request in hand, then exit), signing and sealing through 'signer'
 * (signer.h).  Never returns.
 */
void	front_worker_run(const struct config *cfg, int listen_fd,
	    struct signer *signer)
	    __attribute__((noreturn));

#endif
