// The ops of the churn example: a customer table in, a churn model and its metrics out. Plain
// TypeScript, no ML library: logistic regression trained by full-batch gradient descent.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { op } from '@lzy/sdk';
import { seededRandom } from './random.js';

/** One customer, as parsed from the CSV. */
export interface Customer {
  id: string;
  tenureMonths: number;
  monthlyCharge: number;
  supportTickets: number;
  contract: 'monthly' | 'one-year' | 'two-year';
  autopay: boolean;
  churned: boolean;
}

/** Feature vectors and labels, features standardized with the training set's mean and spread. */
export interface Matrix {
  features: number[][];
  labels: number[];
}

export interface Split {
  train: Matrix;
  test: Matrix;
  featureNames: string[];
}

/** What a model is trained with. */
export interface TrainConfig {
  learningRate: number;
  l2: number;
  epochs: number;
}

export interface Model {
  config: TrainConfig;
  weights: number[];
  bias: number;
  /** Training log loss after the last epoch. */
  loss: number;
}

export interface Metrics {
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  /** Area under the ROC curve. */
  auc: number;
  logLoss: number;
  testCustomers: number;
}

const COLUMNS = ['customer_id', 'tenure_months', 'monthly_charge', 'support_tickets', 'contract', 'autopay', 'churned'];
const CONTRACTS = new Set(['monthly', 'one-year', 'two-year']);

/** Parses the customer CSV; cached, so a second run with the same file skips it. */
export const parseCustomers = op({ cache: true, version: '1' }, async (csv: string): Promise<Customer[]> => {
  const [header, ...rows] = csv.trimEnd().split('\n');
  if (header?.trim() !== COLUMNS.join(',')) throw new Error(`unexpected CSV header: ${header}; expected ${COLUMNS.join(',')}`);
  return rows.map((row, i) => {
    const [id, tenure, charge, tickets, contract, autopay, churned] = row.split(',');
    const customer: Customer = {
      id: id!,
      tenureMonths: Number(tenure),
      monthlyCharge: Number(charge),
      supportTickets: Number(tickets),
      contract: contract as Customer['contract'],
      autopay: autopay === '1',
      churned: churned === '1',
    };
    if (!CONTRACTS.has(customer.contract) || [customer.tenureMonths, customer.monthlyCharge, customer.supportTickets].some(Number.isNaN)) {
      throw new Error(`line ${i + 2} is not a valid customer: ${row}`);
    }
    return customer;
  });
});

/**
 * Splits customers into training and test sets (a seeded shuffle, `testShare` held out), turns
 * them into features (one-hot contract) and standardizes them with the training set's statistics.
 */
export const splitAndScale = op({}, async (customers: Customer[], testShare: number, seed: number): Promise<Split> => {
  const order = customers.map((_, i) => i);
  const next = seededRandom(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const testSize = Math.round(customers.length * testShare);
  const featureNames = ['tenure_months', 'monthly_charge', 'support_tickets', 'contract_monthly', 'contract_two_year', 'autopay'];
  const raw = (c: Customer) => [c.tenureMonths, c.monthlyCharge, c.supportTickets, c.contract === 'monthly' ? 1 : 0, c.contract === 'two-year' ? 1 : 0, c.autopay ? 1 : 0];
  const trainRows = order.slice(testSize).map((i) => customers[i]!);
  const testRows = order.slice(0, testSize).map((i) => customers[i]!);
  const trainRaw = trainRows.map(raw);
  const mean = featureNames.map((_, f) => trainRaw.reduce((sum, x) => sum + x[f]!, 0) / trainRaw.length);
  const spread = featureNames.map((_, f) => Math.sqrt(trainRaw.reduce((sum, x) => sum + (x[f]! - mean[f]!) ** 2, 0) / trainRaw.length) || 1);
  const scale = (x: number[]) => x.map((v, f) => (v - mean[f]!) / spread[f]!);
  return {
    train: { features: trainRaw.map(scale), labels: trainRows.map((c) => (c.churned ? 1 : 0)) },
    test: { features: testRows.map((c) => scale(raw(c))), labels: testRows.map((c) => (c.churned ? 1 : 0)) },
    featureNames,
  };
});

/** Trains a logistic regression with L2 regularization by full-batch gradient descent. */
export const train = op({ retries: { max: 2, backoff: '100ms' } }, async (split: Split, config: TrainConfig): Promise<Model> => {
  const { features, labels } = split.train;
  const width = split.featureNames.length;
  const weights = new Array<number>(width).fill(0);
  let bias = 0;
  let loss = 0;
  for (let epoch = 0; epoch < config.epochs; epoch++) {
    const gradient = new Array<number>(width).fill(0);
    let gradientBias = 0;
    loss = 0;
    for (let i = 0; i < features.length; i++) {
      const p = sigmoid(dot(weights, features[i]!) + bias);
      const error = p - labels[i]!;
      for (let f = 0; f < width; f++) gradient[f]! += error * features[i]![f]!;
      gradientBias += error;
      loss -= labels[i]! * Math.log(p + 1e-12) + (1 - labels[i]!) * Math.log(1 - p + 1e-12);
    }
    for (let f = 0; f < width; f++) weights[f]! -= config.learningRate * (gradient[f]! / features.length + config.l2 * weights[f]!);
    bias -= (config.learningRate * gradientBias) / features.length;
    loss /= features.length;
  }
  console.log(`lr=${config.learningRate} l2=${config.l2}: training loss ${loss.toFixed(4)} after ${config.epochs} epochs`);
  return { config, weights, bias, loss };
});

/** Scores a model on the test set. */
export const evaluate = op({}, async (model: Model, split: Split): Promise<Evaluation> => {
  const { features, labels } = split.test;
  const scores = features.map((x) => sigmoid(dot(model.weights, x) + model.bias));
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  let logLoss = 0;
  scores.forEach((p, i) => {
    const actual = labels[i] === 1;
    if (p >= 0.5) actual ? tp++ : fp++;
    else actual ? fn++ : tn++;
    logLoss -= actual ? Math.log(p + 1e-12) : Math.log(1 - p + 1e-12);
  });
  const precision = tp / Math.max(1, tp + fp);
  const recall = tp / Math.max(1, tp + fn);
  const metrics: Metrics = {
    accuracy: (tp + tn) / scores.length,
    precision,
    recall,
    f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall),
    auc: areaUnderRoc(scores, labels),
    logLoss: logLoss / scores.length,
    testCustomers: scores.length,
  };
  return { config: model.config, metrics, weights: model.weights };
});

/** A trained model with its test metrics. */
export interface Evaluation {
  config: TrainConfig;
  metrics: Metrics;
  weights: number[];
}

/** The evaluation with the best test AUC, with what each feature weighs, and how the others did. */
export const pickBest = op({}, async (split: Split, ...evaluations: Evaluation[]) => {
  const best = evaluations.reduce((a, b) => (b.metrics.auc > a.metrics.auc ? b : a));
  return {
    config: best.config,
    metrics: best.metrics,
    weights: Object.fromEntries(split.featureNames.map((name, f) => [name, Number(best.weights[f]!.toFixed(3))])),
    candidates: evaluations.map((e) => ({ ...e.config, auc: Number(e.metrics.auc.toFixed(4)) })),
  };
});

/**
 * Publishes the chosen model to a model registry (here a folder) and returns where it went. The
 * registry's first upload fails, as a flaky network would (a marker file remembers it): the op's
 * retry succeeds, which the demo shows.
 */
export const publishModel = op({ retries: { max: 3, backoff: '200ms' } }, async (registry: string, model: unknown): Promise<string> => {
  mkdirSync(registry, { recursive: true });
  const marker = join(registry, '.upload-failed-once');
  if (!existsSync(marker)) {
    writeFileSync(marker, '');
    throw new Error('ECONNRESET: the model registry dropped the upload (simulated, to show a retry)');
  }
  const file = join(registry, 'churn-model.json');
  writeFileSync(file, JSON.stringify(model, null, 2));
  return file;
});

function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

function dot(a: number[], b: number[]): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

/** AUC as the probability that a random churner scores above a random stayer (ties count half). */
function areaUnderRoc(scores: number[], labels: number[]): number {
  const ranked = scores.map((score, i) => ({ score, label: labels[i]! })).sort((a, b) => a.score - b.score);
  let rankSum = 0;
  let positives = 0;
  for (let i = 0; i < ranked.length; ) {
    let j = i;
    while (j < ranked.length && ranked[j]!.score === ranked[i]!.score) j++;
    const averageRank = (i + j + 1) / 2;
    for (let k = i; k < j; k++) {
      if (ranked[k]!.label === 1) {
        rankSum += averageRank;
        positives++;
      }
    }
    i = j;
  }
  const negatives = ranked.length - positives;
  return positives === 0 || negatives === 0 ? 0.5 : (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}
