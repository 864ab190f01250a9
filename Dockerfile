# quotad: a small, non-root image with quotad and the hungry client.
# Build: docker build -t quotad .   (docker compose up does it for you)

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Dependencies first, so code changes do not refetch them.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/quotad ./cmd/quotad \
 && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/hungryclient ./cmd/hungryclient

# Static binaries need no libc; distroless gives CA certificates (for a
# JWKS over https), tzdata and a nonroot user, and no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/quotad /out/hungryclient /usr/local/bin/
USER nonroot:nonroot
EXPOSE 8080
ENV QUOTA_ADDR=:8080
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 CMD ["/usr/local/bin/quotad", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/quotad"]
CMD ["serve"]
