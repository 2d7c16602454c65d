/** An S3 access key pair. */
export interface S3Key {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** The key pairs of a JSON list; throws an error naming what is wrong. */
export function parseKeys(json: string): S3Key[] {
  const value: unknown = JSON.parse(json);
  if (!Array.isArray(value)) throw new Error('the S3 keys are not a list');
  return value.map((key: unknown, index) => {
    const { accessKeyId, secretAccessKey } = (key ?? {}) as Record<string, unknown>;
    if (typeof accessKeyId !== 'string' || typeof secretAccessKey !== 'string' || !accessKeyId || !secretAccessKey) {
      throw new Error(`S3 key ${index} needs a non-empty accessKeyId and secretAccessKey`);
    }
    return { accessKeyId, secretAccessKey };
  });
}
