# locust-exporter: one static binary on nothing. Build with contrib/docker/build.sh, which
# compiles target/image/locust-exporter (musl, stripped) and uses target/image as the build
# context; no base image is pulled.
#
#   docker run --rm -p 9646:9646 -v /data/locust:/data:ro locust-exporter --csv /data/
FROM scratch
COPY locust-exporter /locust-exporter
# nobody:nogroup: the exporter needs no privilege (it reads files and listens on 9646).
USER 65534:65534
EXPOSE 9646
ENTRYPOINT ["/locust-exporter"]
