import { loadStackConfig } from "./config/load";
import { GeoApiLayer } from "./components/geo-api-layer";

const layer = new GeoApiLayer("geo", { config: loadStackConfig() });

export const url = layer.url;
export const address = layer.address;
export const certificates = layer.certificates;
export const groups = layer.groups;
export const databaseConnectionName = layer.databaseConnectionName;
export const databasePasswordSecret = layer.databasePasswordSecret;
