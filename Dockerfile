# syntax=docker/dockerfile:1
# Build a static tollgate binary, then ship it alone on a distroless base.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/tollgate ./cmd/tollgate

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tollgate /usr/local/bin/tollgate
WORKDIR /var/lib/tollgate
ENV TOLLGATE_DATA_DIR=/var/lib/tollgate \
    TOLLGATE_PROXY_LISTEN="0.0.0.0:8000, 0.0.0.0:8443 ssl" \
    TOLLGATE_STATUS_LISTEN=0.0.0.0:8100
EXPOSE 8000 8443 8001 8100
ENTRYPOINT ["/usr/local/bin/tollgate"]
CMD ["standalone"]
