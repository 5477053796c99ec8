// Seconds since `running` turned true, ticking while it stays true: the busy state of a scan, a
// fix or a bundle, which the backend answers in one piece (no progress events to show).
import { useEffect, useState } from 'react';

export function useElapsed(running: boolean): number {
  const [seconds, setSeconds] = useState(0);
  useEffect(() => {
    if (!running) return;
    const started = Date.now();
    setSeconds(0);
    const timer = window.setInterval(() => setSeconds(Math.floor((Date.now() - started) / 1000)), 500);
    return () => window.clearInterval(timer);
  }, [running]);
  return seconds;
}
