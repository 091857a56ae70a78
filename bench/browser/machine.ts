/**
 * The machine as a browser page sees it. The browser's name, version, OS and architecture
 * come from User-Agent Client Hints where the browser has them (Chromium-based browsers:
 * the brand list tells Chromium from Chrome and Edge, which share a user-agent string) and
 * from navigator.userAgent otherwise; cores from navigator.hardwareConcurrency. A page
 * cannot read the CPU model or the memory size, so the serving process, which runs on
 * the same machine, passes them in the URL (`cpu`, `cpuId`, `mem`); a runner that
 * launched the browser also passes its full version (`browserVersion`), which Firefox's
 * user-agent string rounds to the major version.
 */
import type { MachineInfo } from "../lib/machine.js";

interface UaData {
  brands?: { brand: string; version: string }[];
  platform?: string;
  getHighEntropyValues?(
    hints: string[],
  ): Promise<{ fullVersionList?: { brand: string; version: string }[]; architecture?: string; bitness?: string; platform?: string }>;
}

export interface BrowserIdentity {
  runtime: string;
  version: string;
  platform: string;
  arch: string;
}

/** Brand → runtime name, most specific first ("Chromium" is in every Chromium-based list). */
const BRANDS: [string, string][] = [
  ["Microsoft Edge", "edge"],
  ["Opera", "opera"],
  ["Google Chrome", "chrome"],
  ["Chromium", "chromium"],
];

const OS: [RegExp, string][] = [
  [/android/i, "android"],
  [/windows/i, "win32"],
  [/mac ?os|macintosh/i, "darwin"],
  [/cros/i, "chromeos"],
  [/linux/i, "linux"],
];

export async function browserIdentity(nav: Navigator = navigator): Promise<BrowserIdentity> {
  const ua = nav.userAgent;
  const data = (nav as Navigator & { userAgentData?: UaData }).userAgentData;
  const high = await data?.getHighEntropyValues?.(["fullVersionList", "architecture", "bitness", "platform"]).catch(() => undefined);
  const platformText = high?.platform ?? data?.platform ?? ua;
  const platform = OS.find(([re]) => re.test(platformText))?.[1] ?? "unknown";

  let arch = "unknown";
  if (high?.architecture)
    arch =
      high.architecture === "x86"
        ? high.bitness === "64"
          ? "x64"
          : "ia32"
        : high.architecture === "arm"
          ? high.bitness === "64"
            ? "arm64"
            : "arm"
          : high.architecture;
  else if (/x86_64|x64|win64|amd64/i.test(ua)) arch = "x64";
  else if (/aarch64|arm64/i.test(ua)) arch = "arm64";

  const list = high?.fullVersionList ?? data?.brands;
  if (list) {
    for (const [brand, runtime] of BRANDS) {
      const hit = list.find((b) => b.brand === brand);
      if (hit) return { runtime, version: hit.version, platform, arch };
    }
  }
  const match = (re: RegExp) => re.exec(ua)?.[1];
  const firefox = match(/Firefox\/([\d.]+)/);
  if (firefox) return { runtime: "firefox", version: firefox, platform, arch };
  const chrome = match(/(?:Headless)?Chrome\/([\d.]+)/);
  if (chrome) return { runtime: "chromium", version: chrome, platform, arch };
  const safari = match(/Version\/([\d.]+).*Safari/);
  if (safari) return { runtime: "safari", version: safari, platform, arch };
  return { runtime: "browser", version: "unknown", platform, arch };
}

/** MachineInfo from the identity, navigator and the serving host's hints (URL parameters). */
export function browserMachine(id: BrowserIdentity, params: URLSearchParams): MachineInfo {
  const cpuId = params.get("cpuId") ?? undefined;
  const mem = Number(params.get("mem"));
  return {
    runtime: id.runtime,
    runtimeVersion: params.get("browserVersion") ?? id.version,
    cpu: params.get("cpu") ?? "unknown",
    ...(cpuId ? { cpuId } : {}),
    cores: navigator.hardwareConcurrency ?? 0,
    platform: id.platform,
    arch: id.arch,
    // navigator.deviceMemory (Chromium only) is rounded and capped at 8 GiB: a last resort.
    totalMemoryGiB: Number.isFinite(mem) && mem > 0 ? mem : ((navigator as Navigator & { deviceMemory?: number }).deviceMemory ?? 0),
    date: new Date().toISOString(),
    userAgent: navigator.userAgent,
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
  };
}
