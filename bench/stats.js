// Summary statistics shared by the bench scripts.
'use strict';

/** The q-quantile of values, interpolated between the two nearest ranks. */
function quantile(values, q) {
  const s = [...values].sort((a, b) => a - b);
  const at = (s.length - 1) * q;
  return s[Math.floor(at)] + (s[Math.ceil(at)] - s[Math.floor(at)]) * (at - Math.floor(at));
}
const median = (values) => quantile(values, 0.5);

module.exports = { quantile, median };
