# syntax=docker/dockerfile:1
# worker: build with the .NET SDK, run on the slim runtime image as a non-root user under tini.
# Build from the repository root: docker build -f docker/worker.Dockerfile -t distributed-executor/worker .

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
# gcc links the task launcher (Worker/Isolation/Native) statically against glibc.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY Contracts/Contracts.csproj Contracts/
COPY Hosting/Hosting.csproj Hosting/
COPY Executors/Executors.csproj Executors/
COPY Worker/Worker.csproj Worker/
# Restore in a layer of its own: it is rebuilt only when a project file or the package versions change.
RUN dotnet restore Worker/Worker.csproj
COPY Contracts/ Contracts/
COPY Hosting/ Hosting/
COPY Executors/ Executors/
COPY Worker/ Worker/
RUN dotnet publish Worker/Worker.csproj -c Release -o /app --nologo

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
# tini is PID 1: it forwards SIGTERM (drain) and reaps orphaned task processes.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 distexec \
    && useradd --system --uid 10001 --gid distexec --home-dir /home/distexec --create-home distexec
WORKDIR /app
COPY --from=build /app ./
USER 10001:10001
EXPOSE 50052
ENV DOTNET_gcServer=0
ENTRYPOINT ["/usr/bin/tini", "--", "/app/DistributedExecutor.Worker"]
