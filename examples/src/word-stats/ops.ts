// The ops of the demo: word statistics over a small corpus of book openings.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { op } from '@lzy/sdk';

export interface Doc {
  name: string;
  text: string;
}

/** Reads every .txt file of `dir`. */
export const loadCorpus = op({}, async (dir: string): Promise<Doc[]> =>
  readdirSync(dir)
    .filter((file) => file.endsWith('.txt'))
    .sort()
    .map((file) => ({ name: file.replace(/\.txt$/, ''), text: readFileSync(join(dir, file), 'utf8') })),
);

/** Lower-cased words of each document. Cached: a second run with the same corpus skips it. */
export const tokenize = op({ cache: true, version: '1' }, async (docs: Doc[]) =>
  docs.map((doc) => ({ name: doc.name, words: doc.text.toLowerCase().match(/[a-z']+/g) ?? [] })),
);

/**
 * Stop words from a "remote source" that fails on its first attempt of each run (the marker file
 * stands for a flaky network); the op's retries make the workflow succeed anyway.
 */
export const stopWords = op({ retries: { max: 2, backoff: '50ms' } }, async (markerFile: string) => {
  if (!existsSync(markerFile)) {
    writeFileSync(markerFile, 'failed once');
    throw new Error('stop-word service unavailable (first attempt fails on purpose)');
  }
  return ['a', 'an', 'and', 'the', 'of', 'to', 'in', 'i', 'it', 'is', 'be', 'or', 'her', 'she', 'that', 'by', 'as', 'so', 'my', 'me', 'he', 'his', 'was', 'had'];
});

type Tokens = Array<{ name: string; words: string[] }>;

function top(counts: Map<string, number>, n: number): Array<[string, number]> {
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, n);
}

/** The most frequent words, stop words left out. */
export const wordFrequencies = op({}, async (tokens: Tokens, stop: string[]) => {
  const skip = new Set(stop);
  const counts = new Map<string, number>();
  for (const { words } of tokens) for (const word of words) if (!skip.has(word)) counts.set(word, (counts.get(word) ?? 0) + 1);
  return top(counts, 8);
});

/** The most frequent pairs of adjacent words, stop words left out. */
export const bigramFrequencies = op({}, async (tokens: Tokens, stop: string[]) => {
  const skip = new Set(stop);
  const counts = new Map<string, number>();
  for (const { words } of tokens) {
    const kept = words.filter((word) => !skip.has(word));
    for (let i = 1; i < kept.length; i++) counts.set(`${kept[i - 1]} ${kept[i]}`, (counts.get(`${kept[i - 1]} ${kept[i]}`) ?? 0) + 1);
  }
  return top(counts, 5);
});

/** Joins both branches of the diamond into one report. */
export const report = op({}, async (tokens: Tokens, words: Array<[string, number]>, bigrams: Array<[string, number]>) => ({
  documents: tokens.map(({ name, words: w }) => ({ name, words: w.length })),
  topWords: words,
  topBigrams: bigrams,
}));
