// Writes examples/data/churn.csv, the dataset of the churn example: 2,000 synthetic customers of a
// subscription service (tenure, monthly charge, support tickets, contract, autopay) and whether
// they left. Churn follows a logistic model of those columns plus noise, so a model can learn it
// but not perfectly. Seeded: running it again writes the same file.
//
//   node examples/dist/churn/make-data.js
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { seededRandom } from './random.js';

const ROWS = 2_000;
const CONTRACTS = ['monthly', 'one-year', 'two-year'] as const;

const next = seededRandom(20261127);
const gaussian = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());

const lines = ['customer_id,tenure_months,monthly_charge,support_tickets,contract,autopay,churned'];
for (let i = 0; i < ROWS; i++) {
  const contract = CONTRACTS[next() < 0.55 ? 0 : next() < 0.6 ? 1 : 2]!;
  const tenure = Math.max(1, Math.round(contract === 'monthly' ? 4 + 20 * next() ** 1.5 : 12 + 50 * next()));
  const charge = Math.round((20 + 90 * next() + 5 * gaussian()) * 100) / 100;
  const tickets = Math.min(12, Math.floor(-Math.log(1 - next()) * (contract === 'monthly' ? 1.6 : 0.8)));
  const autopay = next() < 0.5;
  const score =
    -2.2 - 0.06 * tenure + 0.025 * charge + 0.45 * tickets + (contract === 'monthly' ? 1.1 : contract === 'one-year' ? -0.2 : -1.3) + (autopay ? -0.6 : 0.3) + 0.8 * gaussian();
  const churned = next() < 1 / (1 + Math.exp(-score));
  lines.push([`C${String(i + 1).padStart(5, '0')}`, tenure, charge.toFixed(2), tickets, contract, autopay ? 1 : 0, churned ? 1 : 0].join(','));
}
const file = fileURLToPath(new URL('../../data/churn.csv', import.meta.url));
writeFileSync(file, `${lines.join('\n')}\n`);
console.log(`wrote ${ROWS} customers to ${file}`);
