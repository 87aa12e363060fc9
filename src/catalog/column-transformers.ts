/** Stored bigints come back as strings from PostgreSQL and MySQL; expose numbers. */
export const bigintNumber = {
  to: (v?: number | null) => v,
  from: (v?: string | number | null) => (v === null || v === undefined ? null : Number(v)),
};
