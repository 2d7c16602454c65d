// The README's demo: train a customer-churn model on examples/data/churn.csv. Run it with
//   npx lzy run examples/dist/churn/workflow.js     (the embedded runtime under ./.lzy, or a server)
//
//   parseCustomers (cached) → splitAndScale ─┬→ train(config 1) → evaluate ─┐
//                                            ├→ train(config 2) → evaluate ─┼→ pickBest
//                                            └→ …  (6 configs, in parallel) ┘   ↓
//                                                                      publishModel (retried)
//
// The winning model's metrics and weights go to the `churn-model` whiteboard, and the result
// counts the runs found there. parseCustomers is cached: a second run skips it.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Lzy } from '@lzy/sdk';
import { evaluate, parseCustomers, pickBest, publishModel, splitAndScale, train, type TrainConfig } from './ops.js';

const DATA = new URL('../../data/churn.csv', import.meta.url);

/** The hyperparameters tried, one training op each. */
const GRID: TrainConfig[] = [0.05, 0.2, 0.8].flatMap((learningRate) => [0, 0.01].map((l2) => ({ learningRate, l2, epochs: 300 })));

export default async function churn(lzy: Lzy) {
  // The CSV is read here and travels as a value: nodes need no access to this machine's files.
  const csv = await readFile(DATA, 'utf8');
  const best = await lzy.workflow('churn-model', async (wf) => {
    const split = splitAndScale(parseCustomers(csv), 0.25, 7);
    const evaluations = GRID.map((config) => evaluate(train(split, config), split));
    const winner = pickBest(split, ...evaluations);
    const board = wf.whiteboard('churn-model', { tags: ['demo', 'logistic-regression'] });
    board.dataset = 'examples/data/churn.csv';
    board.winner = winner;
    board.publishedTo = publishModel(join(tmpdir(), `lzy-model-registry-${randomUUID()}`), winner);
    return { ...(await winner), publishedTo: await board.publishedTo };
  });
  const history = await lzy.whiteboards({ name: 'churn-model', tags: ['demo'] });
  return {
    bestConfig: best.config,
    testAuc: round(best.metrics.auc),
    testAccuracy: round(best.metrics.accuracy),
    f1: round(best.metrics.f1),
    weights: best.weights,
    candidates: best.candidates,
    publishedTo: best.publishedTo,
    runsOnWhiteboard: history.length,
  };
}

function round(x: number): number {
  return Number(x.toFixed(4));
}
