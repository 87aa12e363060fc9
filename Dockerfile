# backup-manager: one image for the API and the workers (choose with APP_ROLE / the command).
# PG_MAJOR: the PostgreSQL client installed, from the PostgreSQL project's apt repository; it must
# be at least the major of every PostgreSQL server backed up (pg_dump refuses a newer server).
# docker-compose.yml passes the major of its postgres image.
ARG PG_MAJOR=16

FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
COPY migrations ./migrations
COPY bench ./bench
COPY web ./web
COPY scripts/service-deps.mjs ./scripts/
# Library users do without the service's own packages (optional peers); the image needs them, at
# the versions of the lock file.
RUN npm run build && npm prune --omit=dev && npm install --no-save --omit=dev --no-audit --no-fund $(node scripts/service-deps.mjs)

FROM node:20-bookworm-slim
ARG PG_MAJOR
# Dump and restore clients: PostgreSQL's of major PG_MAJOR from apt.postgresql.org (Debian 12's
# own is 15), MariaDB's, zstd for the default codec. setpriv comes with util-linux (essential).
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
 && install -d /usr/share/postgresql-common/pgdg \
 && curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc https://www.postgresql.org/media/keys/ACCC4CF8.asc \
 && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" > /etc/apt/sources.list.d/pgdg.list \
 && apt-get update && apt-get install -y --no-install-recommends postgresql-client-${PG_MAJOR} mariadb-client zstd \
 && apt-get purge -y curl && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* \
 && /usr/lib/postgresql/${PG_MAJOR}/bin/pg_dump --version
WORKDIR /app
ENV NODE_ENV=production DATA_DIR=/data
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# The storage volume is mounted at /data/backups: created here, owned by node and 0700, so that a
# new named volume starts with that owner and mode (Docker copies them from the image).
RUN mkdir -p /data/backups /data/tmp && chown -R node:node /data && chmod -R 700 /data
USER node
VOLUME ["/data"]
EXPOSE 3000
CMD ["node", "dist/src/main.js"]
