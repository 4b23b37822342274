# One image for every role of the service: the API, the workers and the migrate step differ only in
# their command (see docker-compose.yml). TypeScript runs through tsx, so there is no build step.
FROM node:20-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production

# Dependencies first, so a source change does not reinstall them. tsx is a runtime dependency.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY . .

USER node
# API port, worker metrics port
EXPOSE 3000 9464
CMD ["npm", "run", "start:api"]
