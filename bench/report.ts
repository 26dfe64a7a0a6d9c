// Turns raw timings into the figures the bench publishes: per-scenario MB/s, ratios against references, Markdown.
export interface Scenario {
  id: string;
  label: string;
  /** Scenario id this one is compared with; absent for a reference. */
  reference?: string;
  /** The lowest acceptable ratio to the reference, when the project has set one. */
  aim?: number;
  samplesMBps: number[];
}

export interface Figures {
  id: string;
  label: string;
  medianMBps: number;
  minMBps: number;
  maxMBps: number;
  samplesMBps: number[];
  reference?: string;
  ratio?: number;
  aim?: number;
  aimMet?: boolean;
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  nginx: string;
  commit: string;
}

export interface Report {
  startedAt: string;
  unit: string;
  fileBytes: number;
  runs: number;
  machine: Machine;
  notes: string[];
  scenarios: Figures[];
}

export function mbPerSecond(bytes: number, seconds: number): number {
  return bytes / seconds / 1e6;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function summarize(scenarios: Scenario[]): Figures[] {
  const medians = new Map(scenarios.map((s) => [s.id, median(s.samplesMBps)]));
  return scenarios.map((s) => {
    const medianMBps = medians.get(s.id)!;
    const figures: Figures = {
      id: s.id,
      label: s.label,
      medianMBps,
      minMBps: Math.min(...s.samplesMBps),
      maxMBps: Math.max(...s.samplesMBps),
      samplesMBps: s.samplesMBps,
    };
    if (s.reference === undefined) return figures;
    const ratio = medianMBps / medians.get(s.reference)!;
    return {
      ...figures,
      reference: s.reference,
      ratio,
      ...(s.aim === undefined ? {} : { aim: s.aim, aimMet: ratio >= s.aim }),
    };
  });
}

const rate = (value: number) => value.toFixed(0);

export function toMarkdown(report: Report): string {
  const rows = report.scenarios.map((s) => {
    const ratio = s.ratio === undefined ? 'reference' : `${s.ratio.toFixed(2)}×`;
    const aim = s.aim === undefined ? '—' : `≥ ${s.aim.toFixed(2)}×`;
    const met = s.aimMet === undefined ? '—' : s.aimMet ? 'yes' : '**no**';
    return `| ${s.label} | ${rate(s.medianMBps)} | ${rate(s.minMBps)} | ${rate(s.maxMBps)} | ${ratio} | ${aim} | ${met} |`;
  });
  const { machine } = report;
  return [
    `# Nook bench — ${report.startedAt}`,
    '',
    `File: ${(report.fileBytes / 1024 ** 2).toFixed(0)} MiB (${report.fileBytes} bytes), ${report.runs} runs per scenario, interleaved. ${report.unit}.`,
    '',
    '| Scenario | Median MB/s | Min | Max | Ratio to reference (medians) | Aim | Met |',
    '| --- | ---: | ---: | ---: | --- | --- | --- |',
    ...rows,
    '',
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB RAM, Linux ${machine.kernel}; ` +
      `Node ${machine.node}; ${machine.nginx}; commit ${machine.commit}.`,
    '',
    ...report.notes.map((note) => `- ${note}`),
    '',
  ].join('\n');
}
