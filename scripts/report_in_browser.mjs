// The HTML report as a browser shows it: loads REPORT.html in headless Chromium (its DevTools protocol over
// --remote-debugging-pipe: no network port, no npm package) and checks every chart of the page: the figure has a size
// on the page, and at least one of its series elements (a line or a marker) is laid out with a nonzero box, with no
// "no data" placeholder. Prints one line per chart.
//
//   node scripts/report_in_browser.mjs REPORT.html [SCREENSHOT.png]
//
// Exit status: 0 every chart drawn, 1 a chart empty or the page did not load, 77 (CTest's skip) no Chromium here
// (Debian: apt-get install chromium). $CHROMIUM names the browser binary.
import { spawn, spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';

const [page, screenshot] = process.argv.slice(2);
if (!page) {
  console.error('usage: node scripts/report_in_browser.mjs REPORT.html [SCREENSHOT.png]');
  process.exit(2);
}
if (!fs.existsSync(page)) {
  console.error(`error: ${page}: no such file`);
  process.exit(2);
}
const candidates = [process.env.CHROMIUM, 'chromium', 'chromium-browser', 'google-chrome'].filter(Boolean);
const browser = candidates.find((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);
if (!browser) {
  console.log('SKIP: no Chromium to render the report with (apt-get install chromium)');
  process.exit(77);
}

// fd 3: our messages to the browser; fd 4: its messages to us; each a JSON text ended by a NUL byte.
const child = spawn(browser, ['--headless=new', '--no-sandbox', '--disable-gpu', '--hide-scrollbars',
  '--remote-debugging-pipe', '--window-size=1100,900', 'about:blank'],
  { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] });
const toBrowser = child.stdio[3], fromBrowser = child.stdio[4];
let nextId = 1, buffer = '';
const waiting = new Map(), eventWaiters = [];
fromBrowser.on('data', (chunk) => {
  buffer += chunk.toString('utf8');
  let end;
  while ((end = buffer.indexOf('\0')) >= 0) {
    const message = JSON.parse(buffer.slice(0, end));
    buffer = buffer.slice(end + 1);
    if (message.id && waiting.has(message.id)) {
      const { resolve, reject } = waiting.get(message.id);
      waiting.delete(message.id);
      if (message.error) reject(new Error(JSON.stringify(message.error)));
      else resolve(message.result);
    } else if (message.method) {
      for (const w of eventWaiters.splice(0))
        if (w.method === message.method) w.resolve(message.params); else eventWaiters.push(w);
    }
  }
});
function send(method, params = {}, sessionId) {
  const id = nextId++;
  toBrowser.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0');
  return new Promise((resolve, reject) => waiting.set(id, { resolve, reject }));
}
function nextEvent(method) {
  return new Promise((resolve) => eventWaiters.push({ method, resolve }));
}
const timer = setTimeout(() => {
  console.error('error: the browser did not answer within 60 s');
  child.kill();
  process.exit(1);
}, 60000);

// Run in the page: each figure's size, and how many of its series elements have a laid-out box.
const inspect = `(() => [...document.querySelectorAll('figure.chart')].map((f) => {
  const svg = f.querySelector('svg');
  const box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
  const series = [...f.querySelectorAll('.series')];
  const drawn = series.filter((e) => { const b = e.getBBox(); return b.width > 0 || b.height > 0; }).length;
  return { id: f.id, width: box.width, height: box.height, series: series.length, drawn,
           placeholder: [...f.querySelectorAll('text')].some((t) => t.textContent === 'no data') };
}))()`;

try {
  const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
  await send('Page.enable', {}, sessionId);
  const loaded = nextEvent('Page.loadEventFired');
  await send('Page.navigate', { url: 'file://' + path.resolve(page) }, sessionId);
  await loaded;
  const { result } = await send('Runtime.evaluate', { expression: inspect, returnByValue: true }, sessionId);
  const charts = result.value;
  let empty = 0;
  for (const c of charts) {
    const ok = c.width > 0 && c.height > 0 && c.drawn > 0 && !c.placeholder;
    empty += ok ? 0 : 1;
    console.log(`${ok ? 'drawn' : 'EMPTY'}  ${c.id}: ${Math.round(c.width)} x ${Math.round(c.height)} px, ` +
                `${c.drawn} of ${c.series} series elements laid out`);
  }
  if (screenshot) {
    const { data } = await send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true }, sessionId);
    fs.writeFileSync(screenshot, Buffer.from(data, 'base64'));
    console.log(`screenshot ${screenshot}`);
  }
  console.log(`${charts.length} charts, ${empty} empty`);
  await send('Browser.close').catch(() => {});
  clearTimeout(timer);
  process.exit(charts.length > 0 && empty === 0 ? 0 : 1);
} catch (e) {
  console.error(`error: ${e.message}`);
  child.kill();
  process.exit(1);
}
