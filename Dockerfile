# Build: docker build -t connect-doctor .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/connect-doctor ./cmd/connect-doctor

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/connect-doctor /usr/local/bin/connect-doctor
ENV PORT=8080 DATA_DIR=/data
EXPOSE 8080
USER nonroot
ENTRYPOINT ["/usr/local/bin/connect-doctor"]
CMD ["serve"]
