// The two charts, as inline SVG: invocations by duration, and invocations running at
// once over the run (from each entry's start offset and duration).

const SVG = "http://www.w3.org/2000/svg";
const CHART_WIDTH = 600;
const CHART_HEIGHT = 180;
const MARGIN = { left: 44, right: 12, top: 10, bottom: 24 };

function svgEl(tag, attributes, text) {
  const node = document.createElementNS(SVG, tag);
  for (const name in attributes) node.setAttribute(name, String(attributes[name]));
  if (text !== undefined) node.append(document.createTextNode(oneLine(text)));
  return node;
}

function chartFrame(label) {
  const svg = svgEl("svg", {
    viewBox: "0 0 " + CHART_WIDTH + " " + CHART_HEIGHT,
    role: "img",
    "aria-label": label,
  });
  const plotBottom = CHART_HEIGHT - MARGIN.bottom;
  svg.append(
    svgEl("line", { class: "axis", x1: MARGIN.left, x2: CHART_WIDTH - MARGIN.right, y1: plotBottom, y2: plotBottom }),
    svgEl("line", { class: "axis", x1: MARGIN.left, x2: MARGIN.left, y1: MARGIN.top, y2: plotBottom }),
  );
  return svg;
}

function axisLabels(svg, xLabels, yMax) {
  const plotBottom = CHART_HEIGHT - MARGIN.bottom;
  const plotWidth = CHART_WIDTH - MARGIN.left - MARGIN.right;
  xLabels.forEach(([fraction, label], i) => {
    const anchor = i === 0 ? "start" : i === xLabels.length - 1 ? "end" : "middle";
    svg.append(svgEl("text", { x: MARGIN.left + fraction * plotWidth, y: CHART_HEIGHT - 6, "text-anchor": anchor }, label));
  });
  svg.append(
    svgEl("text", { x: MARGIN.left - 6, y: MARGIN.top + 8, "text-anchor": "end" }, formatCount(yMax)),
    svgEl("text", { x: MARGIN.left - 6, y: plotBottom, "text-anchor": "end" }, "0"),
  );
}

// 1, 2 or 5 times a power of ten, at least `value`.
function niceStep(value) {
  if (value <= 1) return 1;
  const power = Math.pow(10, Math.floor(Math.log10(value)));
  for (const factor of [1, 2, 5, 10]) {
    if (factor * power >= value) return factor * power;
  }
  return 10 * power;
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

// The histogram of the durations of the invocations that ran (skipped ones did not).
function drawHistogram(figure, entries) {
  const durations = [];
  for (const entry of entries) {
    if (entry.status !== "skipped") durations.push(entry.duration_ms || 0);
  }
  if (durations.length === 0) {
    figure.append(el("p", "hint", "No invocation ran."));
    return;
  }
  durations.sort((a, b) => a - b);
  const max = durations[durations.length - 1];
  const step = niceStep((max + 1) / 30);
  const bins = new Array(Math.floor(max / step) + 1).fill(0);
  for (const duration of durations) bins[Math.floor(duration / step)] += 1;
  const highest = Math.max(...bins);
  const median = percentile(durations, 0.5);
  const p95 = percentile(durations, 0.95);
  const svg = chartFrame(
    "Histogram of " + durations.length + " durations: median " + formatMs(median) + ", 95th percentile " + formatMs(p95) + ", longest " + formatMs(max),
  );
  const plotWidth = CHART_WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = CHART_HEIGHT - MARGIN.top - MARGIN.bottom;
  const barWidth = plotWidth / bins.length;
  bins.forEach((count, i) => {
    if (count === 0) return;
    const height = Math.max(1, (count / highest) * plotHeight);
    const bar = svgEl("rect", {
      class: "bar",
      x: MARGIN.left + i * barWidth + 0.5,
      y: MARGIN.top + plotHeight - height,
      width: Math.max(1, barWidth - 1),
      height: height,
    });
    bar.append(svgEl("title", {}, formatMs(i * step) + " – " + formatMs((i + 1) * step) + ": " + formatCount(count)));
    svg.append(bar);
  });
  const span = bins.length * step;
  axisLabels(svg, [[0, "0"], [0.5, formatMs(span / 2)], [1, formatMs(span)]], highest);
  figure.append(svg, el("p", "hint", "median " + formatMs(median) + " · 95th percentile " + formatMs(p95) + " · longest " + formatMs(max)));
}

// Invocations running at once over the run: the highest count within each column.
function drawTimeline(figure, entries, runMs) {
  const events = [];
  for (const entry of entries) {
    if (entry.status === "skipped" || typeof entry.start_ms !== "number") continue;
    const start = entry.start_ms;
    const duration = entry.duration_ms || 0;
    // [time, order, change]: at the same moment, ends of invocations that ran for a while
    // come first (back-to-back invocations are not concurrent), then starts, then the ends
    // of invocations of 0 ms (which still ran: they count with whatever starts with them).
    events.push([start, 1, 1], [start + duration, duration > 0 ? 0 : 2, -1]);
  }
  if (events.length === 0) {
    const ran = entries.some((entry) => entry.status !== "skipped");
    figure.append(el("p", "hint", ran ? "The report has no start times (entries' start_ms): a report of a newer xacct has them." : "No invocation ran."));
    return;
  }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const span = Math.max(runMs || 0, events[events.length - 1][0], 1);
  const columns = 300;
  const peaks = new Array(columns).fill(0);
  let running = 0;
  let next = 0;
  let peak = 0;
  let peakAt = 0;
  for (let column = 0; column < columns; column++) {
    const until = ((column + 1) / columns) * span;
    let highest = running;
    while (next < events.length && (events[next][0] < until || column === columns - 1)) {
      running += events[next][2];
      if (running > highest) highest = running;
      if (running > peak) {
        peak = running;
        peakAt = events[next][0];
      }
      next += 1;
    }
    peaks[column] = highest;
  }
  const svg = chartFrame("Invocations running at once over " + formatMs(span) + ": at most " + peak + ", at " + formatMs(peakAt));
  const plotWidth = CHART_WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = CHART_HEIGHT - MARGIN.top - MARGIN.bottom;
  const base = MARGIN.top + plotHeight;
  const x = (column) => (MARGIN.left + (column / columns) * plotWidth).toFixed(1);
  const y = (count) => (base - (count / Math.max(peak, 1)) * plotHeight).toFixed(1);
  let path = "M" + x(0) + "," + base;
  peaks.forEach((count, column) => {
    path += "L" + x(column) + "," + y(count) + "L" + x(column + 1) + "," + y(count);
  });
  path += "L" + x(columns) + "," + base + "Z";
  svg.append(svgEl("path", { class: "area", d: path }));
  axisLabels(svg, [[0, "0"], [0.5, formatMs(Math.round(span / 2))], [1, formatMs(span)]], peak);
  figure.append(svg, el("p", "hint", "at most " + formatCount(peak) + " at once, " + formatMs(peakAt) + " into the run"));
}
