// The floor for a waiting-room status poll, as a baseline for `npm run bench`: a bare Express route
// that reads a member's place in a Redis sorted set (ZSCORE + ZRANK in one round trip) and answers
// JSON. No token check, no performance lookup, no admission logic. BARE_REDIS_URL, BARE_KEY; prints
// {"url": ...} when ready.
import express from 'express';
import { Redis } from 'ioredis';

const redis = new Redis(process.env['BARE_REDIS_URL'] ?? 'redis://127.0.0.1:6379');
const key = process.env['BARE_KEY']!;
const app = express();
app.get('/status/:member', async (req, res) => {
  const r = await redis.multi().zscore(key, req.params.member).zrank(key, req.params.member).exec();
  const ticket = r?.[0]?.[1];
  const rank = r?.[1]?.[1];
  if (ticket == null) return void res.status(404).json({ code: 'not-in-line' });
  res.json({ status: 'waiting', ticket: Number(ticket), position: Number(rank) + 1 });
});
const server = app.listen(0, '127.0.0.1', () => {
  const a = server.address();
  console.log(JSON.stringify({ url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}` }));
});
process.on('SIGTERM', () => {
  server.close();
  redis.disconnect();
});
