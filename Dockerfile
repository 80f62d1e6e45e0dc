# Worker image: `digitize serve` (the Prefect deployments) against the Prefect server named by
# PREFECT_API_URL. Run:
#   docker run -d --init --network host --stop-timeout 90 \
#     -e PREFECT_API_URL=http://127.0.0.1:4200/api -v /srv/scans:/data digitize
# Any other command works too: docker run --rm -v /srv/scans:/data digitize run /data/inbox/lo-1
FROM debian:12-slim
ENV DEBIAN_FRONTEND=noninteractive PYTHONUNBUFFERED=1 UV_PYTHON_DOWNLOADS=never
# The runtime part of scripts/setup.sh's list (not PostgreSQL and Chromium, which only the tests
# use), plus postgresql-client for pg_dump backups of a PostgreSQL ledger. clamav-daemon brings
# clamd, which no service starts here: give the image the host's socket (-v /var/run/clamav:/var/run/clamav)
# for the malware scan at intake (DIGITIZE_CLAMD_SOCKET).
RUN apt-get update && apt-get install -y --no-install-recommends \
      python3 python3-venv python3-pip \
      tesseract-ocr tesseract-ocr-vie tesseract-ocr-fra tesseract-ocr-chi-tra tesseract-ocr-chi-tra-vert \
      ghostscript unpaper pngquant qpdf poppler-utils fonts-noto-core curl \
      postgresql-client clamav-daemon \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m pip install --break-system-packages --no-cache-dir uv==0.13.8
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
COPY src ./src
COPY flows ./flows
# The project is built as a wheel and installed (not editable) into .venv, with its package data
# (src/digitize/data: profiles, schemas, the text layer's font), so the image runs what the wheel
# carries; --compile-bytecode compiles it there.
RUN python3 -m uv sync --frozen --no-dev --no-editable --compile-bytecode
# PREFECT_API_URL is not set here: it must come from `docker run -e` (without it `serve` would
# register the deployments on a throwaway local server).
ENV PATH=/app/.venv/bin:$PATH DIGITIZE_DATA=/data OMP_THREAD_LIMIT=1
VOLUME ["/data"]
ENTRYPOINT ["digitize"]
CMD ["serve"]
