# syntax=docker/dockerfile:1
# master: build with the .NET SDK, run on the chiseled ASP.NET image (no shell, no package manager) as a non-root user.
# Build from the repository root: docker build -f docker/master.Dockerfile -t distributed-executor/master .

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
# gcc links the task launcher (Worker/Isolation/Native) statically against glibc.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev tzdata \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY Contracts/Contracts.csproj Contracts/
COPY Hosting/Hosting.csproj Hosting/
COPY Executors/Executors.csproj Executors/
COPY Master/Master.csproj Master/
# Restore in a layer of its own: it is rebuilt only when a project file or the package versions change.
RUN dotnet restore Master/Master.csproj
COPY Contracts/ Contracts/
COPY Hosting/ Hosting/
COPY Executors/ Executors/
COPY Master/ Master/
RUN dotnet publish Master/Master.csproj -c Release -o /app --nologo

# The data folder, owned by the master's user: the runtime stage has no shell to make it.
RUN mkdir -p /data && chown 10001:10001 /data

# The master runs no user commands (tasks run on workers), so it runs on the chiseled image: no shell, no package
# manager, nothing but the runtime and the program. Without task processes there are no orphans to reap, and .NET
# handles SIGTERM itself as PID 1, so no init either. (EMBEDDED_WORKERS is for `make run`, not this image.)
FROM mcr.microsoft.com/dotnet/aspnet:10.0-noble-chiseled AS runtime
COPY --from=build --chown=10001:10001 /data /var/lib/distexec
ENV MASTER_DB_PATH=/var/lib/distexec/master.db
VOLUME /var/lib/distexec
WORKDIR /app
COPY --from=build /app ./
# Time zones for schedules (schedule create --tz Europe/Berlin): the chiseled image carries none.
COPY --from=build /usr/share/zoneinfo /usr/share/zoneinfo
USER 10001:10001
EXPOSE 50051 8080
ENV DOTNET_gcServer=0
ENTRYPOINT ["/app/DistributedExecutor.Master"]
