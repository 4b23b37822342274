// The design the original system used, as a baseline for bench:holds: an Express route that holds
// one seat per request synchronously, under `SELECT … FOR UPDATE`, on tables of its own. No queue,
// no fairness: whoever gets the row lock first wins. It checks the same per-member limit as ours.
// Started by the bench as its own process: LOCK_DATABASE_URL, PORT; prints {"url": ...} when ready.
import express from 'express';
import { createPool } from 'mysql2/promise';

const pool = createPool({
  uri: process.env['LOCK_DATABASE_URL']!,
  connectionLimit: 20,
  multipleStatements: false,
});
const LIMIT = Number(process.env['MAX_SEATS_PER_MEMBER'] ?? 4);

await pool.query(`CREATE TABLE IF NOT EXISTS lock_seats (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  status ENUM('available','held') NOT NULL DEFAULT 'available',
  member_id BIGINT UNSIGNED NULL,
  KEY ix_lock_seats_member (member_id)
) ENGINE=InnoDB`);
await pool.query(`CREATE TABLE IF NOT EXISTS lock_holds (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  seat_id BIGINT UNSIGNED NOT NULL,
  member_id BIGINT UNSIGNED NOT NULL,
  created_at DATETIME(3) NOT NULL
) ENGINE=InnoDB`);

const app = express();
app.use(express.json());
app.post('/seed', async (req, res) => {
  const n = Number((req.body as { seats: number }).seats);
  await pool.query('DELETE FROM lock_holds');
  await pool.query('DELETE FROM lock_seats');
  for (let i = 0; i < n; i += 5000) {
    const rows = Array.from({ length: Math.min(5000, n - i) }, (_, j) => [i + j + 1]);
    await pool.query('INSERT INTO lock_seats (id) VALUES ?', [rows]);
  }
  res.json({ seats: n });
});
app.post('/holds', async (req, res) => {
  const { memberId, seatId } = req.body as { memberId: number; seatId: number };
  const conn = await pool.getConnection();
  try {
    await conn.beginTransaction();
    const [[seat]] = (await conn.query('SELECT status FROM lock_seats WHERE id = ? FOR UPDATE', [
      seatId,
    ])) as unknown as [{ status: string }[]];
    const [[mine]] = (await conn.query('SELECT COUNT(*) AS n FROM lock_seats WHERE member_id = ?', [
      memberId,
    ])) as unknown as [{ n: number }[]];
    let status: string;
    if (!seat || seat.status !== 'available') status = 'seat-unavailable';
    else if (Number(mine?.n ?? 0) + 1 > LIMIT) status = 'limit-exceeded';
    else {
      await conn.query("UPDATE lock_seats SET status = 'held', member_id = ? WHERE id = ?", [
        memberId,
        seatId,
      ]);
      await conn.query('INSERT INTO lock_holds (seat_id, member_id, created_at) VALUES (?, ?, NOW(3))', [
        seatId,
        memberId,
      ]);
      status = 'succeeded';
    }
    await conn.commit();
    res.json({ status });
  } catch (err) {
    await conn.rollback().catch(() => undefined);
    res.status(500).json({ error: String(err) });
  } finally {
    conn.release();
  }
});
app.get('/held', async (_req, res) => {
  const [[row]] = (await pool.query(
    "SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS d FROM lock_seats WHERE status = 'held'",
  )) as unknown as [{ n: number; d: number }[]];
  res.json(row);
});

const server = app.listen(Number(process.env['PORT'] ?? 0), '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  console.log(JSON.stringify({ url: `http://127.0.0.1:${port}` }));
});
server.keepAliveTimeout = 65_000;
process.on('SIGTERM', () => {
  server.close();
  void pool.end();
});
