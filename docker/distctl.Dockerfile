# syntax=docker/dockerfile:1
# distctl: build with the .NET SDK (Native AOT), run on the runtime-deps image (no .NET runtime needed) as a non-root user under tini.
# Build from the repository root: docker build -f docker/distctl.Dockerfile -t distributed-executor/distctl .

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
# distctl is published with Native AOT, linked by gcc.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY Contracts/Contracts.csproj Contracts/
COPY Cli/Cli.csproj Cli/
# Restore in a layer of its own: it is rebuilt only when a project file or the package versions change.
RUN dotnet restore Cli/Cli.csproj
COPY Contracts/ Contracts/
COPY Cli/ Cli/
RUN dotnet publish Cli/Cli.csproj -c Release -o /app --nologo

FROM mcr.microsoft.com/dotnet/runtime-deps:10.0 AS runtime
# tini is PID 1: it forwards SIGTERM (drain) and reaps orphaned task processes.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 distexec \
    && useradd --system --uid 10001 --gid distexec --home-dir /home/distexec --create-home distexec
WORKDIR /app
COPY --from=build /app ./
USER 10001:10001
ENTRYPOINT ["/usr/bin/tini", "--", "/app/distctl"]
