# Production image: the portal on gunicorn; the same image runs the Celery worker and beat.
FROM node:20-bookworm-slim AS assets
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# The same copy as `make assets` (source maps included: collectstatic follows them).
COPY bin/vendor_assets.sh bin/
RUN sh bin/vendor_assets.sh

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
# A TrueType CJK font for the PDFs (公示, 审批表, 汇总表): ReportLab embeds its glyphs, so the
# paper prints the same on any reader (core/pdf.py; Noto CJK is CFF, which it cannot embed).
RUN apt-get update && apt-get install -y --no-install-recommends fonts-wqy-zenhei \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
COPY --from=assets /app/static/vendor ./static/vendor
# The production static build, the same script the production smoke test runs (tests/test_production.py).
# collectstatic needs settings that parse; these throwaway values never reach a running container.
RUN SECRET_KEY=build-only PII_KEYS=b:YnVpbGQtb25seS1rZXktMDAwMDAwMDAwMDAwMDAwMDA= PII_INDEX_KEY=build \
    sh bin/build_static.sh
RUN useradd --system --uid 1000 portal && mkdir -p /app/media && chown portal /app/media
USER portal
EXPOSE 8000
# Worker class, count and logs: gunicorn.conf.py (WEB_CONCURRENCY).
CMD ["gunicorn", "-c", "gunicorn.conf.py", "portal.wsgi"]
