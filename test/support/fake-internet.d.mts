export function fakeInternetSubnet(): string;
