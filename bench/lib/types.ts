/** One benchmark measurement, reported as a ratio to a baseline measured in the same run (machines are noisy). */
export interface BenchResult {
  name: string;
  metric: string;
  value: number;
  baseline: string;
  ratio: number;
  notes?: string;
}
