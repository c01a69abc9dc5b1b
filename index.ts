import { loadStackConfig } from "./config/load";
import { GeoApiLayer } from "./components/geo-api-layer";
import { topologyRules } from "./components/topologies/catalog";

const layer = new GeoApiLayer("geo", { config: loadStackConfig(topologyRules) });

export const url = layer.url;
export const address = layer.address;
export const certificates = layer.certificates;
export const groups = layer.groups;
export const databaseConnectionName = layer.databaseConnectionName;
export const databasePasswordSecret = layer.databasePasswordSecret;
