/** Where a trace command writes, and (for tests) what relative paths are relative to and what `--step` reads. */
export interface CliStreams {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  workdir?: string;
  stdin?: NodeJS.ReadableStream;
}
