# The local stand-in for mcr.microsoft.com/dotnet/aspire-dashboard: the standalone dashboard from NuGet
# Aspire.Dashboard.Sdk.linux-x64 (self-contained; it needs libicu). Context: the package's tools folder, made
# readable for all by build-local.sh. Ports as in Microsoft's image: UI 18888, OTLP/gRPC 18889, OTLP/HTTP 18890.
FROM bundlecluster-local/debian:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends libicu72 && rm -rf /var/lib/apt/lists/*
COPY . /app
ENV HOME=/tmp \
    ASPNETCORE_URLS=http://+:18888 \
    ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL=http://+:18889 \
    ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL=http://+:18890
USER 10001:10001
EXPOSE 18888 18889 18890
CMD ["/app/Aspire.Dashboard"]
