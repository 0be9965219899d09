# The API image; it serves the admin SPA build too.
FROM node:20-bookworm-slim
WORKDIR /app
COPY . .
RUN npm ci --no-audit --no-fund && npm run build -w @switchboard/admin
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
EXPOSE 3000
CMD ["npm", "run", "start", "-w", "@switchboard/api"]
