FROM debian:12-slim
ENV DEBIAN_FRONTEND=noninteractive PYTHONUNBUFFERED=1 UV_PYTHON_DOWNLOADS=never
RUN apt-get update && apt-get install -y --no-install-recommends \
      python3 python3-venv python3-pip \
      tesseract-ocr tesseract-ocr-vie tesseract-ocr-fra tesseract-ocr-chi-tra tesseract-ocr-chi-tra-vert \
      ghostscript unpaper pngquant qpdf poppler-utils fonts-noto-core \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m pip install --break-system-packages --no-cache-dir uv==0.13.8
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
COPY src ./src
COPY flows ./flows
COPY profiles ./profiles
RUN python3 -m uv sync --frozen --no-dev
ENV PATH=/app/.venv/bin:$PATH DIGITIZE_DATA=/data
VOLUME ["/data"]
ENTRYPOINT ["digitize"]
CMD ["--help"]
