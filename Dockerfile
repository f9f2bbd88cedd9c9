# fleetpki: fleetpkid + fleetpki-worker (docker-compose.yml runs it with
# PostgreSQL and nginx).  Built from source on Debian 12.
FROM debian:12 AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential autoconf automake libtool autoconf-archive pkg-config \
      libfcgi-dev libssl-dev libpq-dev libjson-c-dev libcurl4-openssl-dev libargon2-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN ./autogen.sh \
 && mkdir -p /build && cd /build \
 && /src/configure --prefix=/usr --sysconfdir=/etc \
 && make -j"$(nproc)" \
 && make install DESTDIR=/out

FROM debian:12-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libfcgi0ldbl libssl3 libpq5 libjson-c5 libcurl4 libargon2-1 openssl ca-certificates procps \
      postgresql-client \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/fleetpki --shell /usr/sbin/nologin fleetpki \
 && mkdir -p /var/lib/fleetpki /etc/fleetpki/tls \
 && chown fleetpki:fleetpki /var/lib/fleetpki /etc/fleetpki/tls \
 && chmod 0700 /var/lib/fleetpki
COPY --from=build /out/usr/ /usr/
COPY scripts/lib.sh /usr/share/fleetpki/lib.sh
COPY docker/entrypoint.sh /usr/local/bin/fleetpki-entrypoint
USER fleetpki
VOLUME ["/var/lib/fleetpki", "/etc/fleetpki/tls"]
EXPOSE 9000
ENTRYPOINT ["fleetpki-entrypoint"]
CMD ["all"]
