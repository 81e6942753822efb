// Polls while a page is shown: runs at once, then every `seconds` (paused while the tab is hidden); returns stop().
export function every(seconds, tick) {
  let timer = null;
  let stopped = false;
  const run = async () => {
    if (stopped) return;
    if (!document.hidden) {
      try { await tick(); } catch { /* the tick shows its own errors */ }
    }
    if (!stopped) timer = setTimeout(run, seconds * 1000);
  };
  run();
  return () => { stopped = true; clearTimeout(timer); };
}
