// placeholder until js-client lands
