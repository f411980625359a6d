# The local stand-in for mcr.microsoft.com/dotnet/aspnet:10.0: the Debian base plus this host's .NET and ASP.NET
# Core runtimes (context: the runtime folders build-local.sh copies out of the host's dotnet root).
FROM bundlecluster-local/debian:bookworm
COPY dotnet /usr/share/dotnet
RUN ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet && dotnet --list-runtimes
ENV DOTNET_ROOT=/usr/share/dotnet
