import type Docker from 'dockerode';
export function fakeInternetPrefixes(): string[];
export function createFakeInternet(docker: Docker, name: string, labels?: Record<string, string>): Promise<string>;
