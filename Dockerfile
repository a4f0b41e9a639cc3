# Build: docker build -t connect-doctor .
# Run alone (SQLite in the /data volume, owned by the runtime user):
#   docker run -p 8080:8080 -v connect-doctor-data:/data connect-doctor
# With PostgreSQL: docker compose up (docker-compose.yml).
# image_test.go builds the binary with this file's build command and runs it
# as the runtime user with this file's environment, paths and permissions.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/connect-doctor ./cmd/connect-doctor
# DATA_DIR, created here so that it (and a named volume Docker initialises
# from it) belongs to the runtime user: distroless's nonroot, uid 65532.
RUN mkdir -p /out/data && chown 65532:65532 /out/data && chmod 0700 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/connect-doctor /usr/local/bin/connect-doctor
COPY --from=build --chown=65532:65532 /out/data /data
ENV PORT=8080 DATA_DIR=/data
VOLUME /data
EXPOSE 8080
USER 65532:65532
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/local/bin/connect-doctor", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/connect-doctor"]
CMD ["serve"]
