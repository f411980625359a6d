# The local stand-in for the public fauxqs image: npm fauxqs 2.4.1 on Node 22, installed on the host (npm's HTTPS
# fails inside builds here) by deploy/s3-server.sh's install step; context: deploy/s3. Its own command line, which
# listens on every address of the container (the host publishes it on 127.0.0.1 only).
FROM bundlecluster-local/debian:bookworm
COPY node_modules /opt/fauxqs/node_modules
ENV FAUXQS_PORT=4566 FAUXQS_LOGGER=false
USER 10001:10001
EXPOSE 4566
HEALTHCHECK --interval=5s --timeout=3s --retries=10 CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:4566/health"]
CMD ["/opt/fauxqs/node_modules/node/bin/node", "/opt/fauxqs/node_modules/fauxqs/dist/cli.js"]
