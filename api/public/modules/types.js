// @ts-check
// Shapes of the API's answers (contract §3), for JSDoc types only: this module exports nothing at run time.

/**
 * @typedef {{ id: number, name: string, place: string, showtime: string, seatCount: number,
 *   availableCount: number, soldOut: boolean, currency?: string }} PerformanceSummary
 * @typedef {{ id: number, name: string, price: number }} Grade
 * @typedef {{ id: number, name: string, seatCount?: number, availableCount?: number }} ZoneInfo
 * @typedef {PerformanceSummary & { admissionCapacity: number, maxSeatsPerMember: number, heldCount: number,
 *   soldCount: number, grades: Grade[], zones: ZoneInfo[] }} PerformanceDetail
 * @typedef {'available' | 'held' | 'sold'} SeatStatus
 * @typedef {{ id: number, code: string, zone: string, row?: string, number?: number, grade: string,
 *   price: number, status: SeatStatus }} Seat
 * @typedef {{ status: 'waiting' | 'admitted' | 'sold-out', ticket: number, position: number,
 *   etaSeconds: number, admittedUntil?: string }} WaitingStatus
 * @typedef {{ id: number, performanceId: number, seatIds: number[],
 *   status: 'held' | 'confirmed' | 'released' | 'expired', expiresAt: string }} Hold
 * @typedef {{ requestId: number, kind: 'hold' | 'confirm' | 'release',
 *   status: 'queued' | 'processing' | 'succeeded' | 'rejected', position?: number, hold?: Hold,
 *   tickets?: { serial: string, seatId: number }[], reason?: string }} SeatRequest
 * @typedef {{ serial: string, seatId: number, performanceId: number, seatCode: string, zone?: string,
 *   price: number }} Ticket
 * @typedef {{ token: string, memberId: number, email: string, expiresAt: number }} Session
 */

export {};
